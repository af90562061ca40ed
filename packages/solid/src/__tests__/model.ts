/** @strata/model for the form and auth tests (a dev dependency: the same copy @strata/serializer and @strata/auth load). */
export { close as closeDatabase, defineModel, f, setup } from '@strata/model';
export { createSchema } from '@strata/model/migrations';
