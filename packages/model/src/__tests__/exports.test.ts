import { describe, expect, it } from 'vitest';
import * as model from '..';
import * as migrations from '../migrations.js';

// A change to these lists is a change of the public API: review it as one.
describe('public exports', () => {
  it('does not change the names exported by @strata/model unnoticed', () => {
    expect(Object.keys(model).sort()).toMatchInlineSnapshot(`
      [
        "Avg",
        "Count",
        "F",
        "FieldRef",
        "IntegrityError",
        "Max",
        "Min",
        "Model",
        "ModelError",
        "MultipleFoundError",
        "NotFoundError",
        "ProtectedError",
        "QuerySet",
        "Registry",
        "RelatedSet",
        "StrataError",
        "Sum",
        "ValidationError",
        "atomic",
        "close",
        "defineModel",
        "f",
        "getRegistry",
        "inTransaction",
        "isExpression",
        "isJsonValue",
        "isModelRow",
        "isStrataError",
        "modelErrorCodes",
        "modelOfRow",
        "onChange",
        "runInQueryScope",
        "setup",
      ]
    `);
  });

  it('does not change the names exported by @strata/model/migrations unnoticed', () => {
    expect(Object.keys(migrations).sort()).toMatchInlineSnapshot(`
      [
        "createSchema",
        "makeMigrations",
        "migrate",
        "pendingMigrations",
      ]
    `);
  });
});
