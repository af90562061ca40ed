import { defineModel, f } from '@strata/model';

/** A permission such as `shop.change_product`: `<app>.<action>_<model>`. */
export const Permission = defineModel('auth.Permission', {
  fields: {
    codename: f.text({ maxLength: 150, unique: true }),
    name: f.text({ maxLength: 255 }),
    /** The model it is about (`shop.Product`), or '' for a custom permission. */
    model: f.text({ maxLength: 150, default: '' }),
  },
  ordering: ['codename'],
});

/** A named set of permissions users belong to. */
export const Group = defineModel('auth.Group', {
  fields: {
    name: f.text({ maxLength: 150, unique: true }),
    permissions: f.manyToMany(() => Permission, { relatedName: 'groups' }),
  },
  ordering: ['name'],
});

/**
 * A user. The login is the e-mail address (stored lowercase) or the optional username; the
 * password is an argon2id hash, `sensitive` (never serialized, filtered or ordered on).
 */
export const User = defineModel('auth.User', {
  fields: {
    email: f.text({ maxLength: 254, unique: true }),
    username: f.text({ maxLength: 150, unique: true, null: true }),
    name: f.text({ maxLength: 150, default: '' }),
    password: f.text({ maxLength: 255, sensitive: true }),
    isActive: f.boolean({ default: true }),
    isStaff: f.boolean({ default: false }),
    isSuperuser: f.boolean({ default: false }),
    lastLogin: f.datetime({ null: true }),
    dateJoined: f.datetime({ default: () => new Date() }),
    groups: f.manyToMany(() => Group, { relatedName: 'users' }),
    permissions: f.manyToMany(() => Permission, { relatedName: 'users' }),
  },
});

/**
 * A server-side session of the database store. `key` is the SHA-256 of the cookie's value:
 * the cookie alone opens it, and a copy of this table does not.
 */
export const Session = defineModel('auth.Session', {
  fields: {
    key: f.text({ maxLength: 64, unique: true }),
    user: f.foreignKey(() => User, { null: true, onDelete: 'cascade', relatedName: 'sessions' }),
    data: f.json<Record<string, unknown>>({ default: () => ({}) }),
    expiresAt: f.datetime({ index: true }),
  },
});

/** Every model of the auth layer, for `setup({ models: [...authModels, ...yours] })`. */
export const authModels = [Permission, Group, User, Session];
