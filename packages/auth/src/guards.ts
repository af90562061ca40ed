import type { EventContext, Guard } from '@strata/state/server';
import type { AuthUser } from './currentUser.js';
import { AuthError } from './errors.js';

/** The signed-in user of an event, or STRATA_AUTH_LOGIN_REQUIRED. */
function signedIn(ctx: EventContext): AuthUser {
  const user = ctx.user;
  if (!user) throw new AuthError('STRATA_AUTH_LOGIN_REQUIRED', 'Sign in to do this.');
  return user;
}

const denied = (message = 'You do not have permission to do this.') => new AuthError('STRATA_AUTH_PERMISSION_DENIED', message);

/** Passes for a signed-in user. */
export const loginRequired: Guard = (ctx) => {
  signedIn(ctx);
};

/** Passes for a signed-in staff member (or superuser). */
export const staffRequired: Guard = (ctx) => {
  const user = signedIn(ctx);
  if (!user.isStaff && !user.isSuperuser) throw denied('Only staff can do this.');
};

/** Passes for a signed-in superuser. */
export const superuserRequired: Guard = (ctx) => {
  if (!signedIn(ctx).isSuperuser) throw denied('Only a superuser can do this.');
};

/**
 * Passes for a signed-in user holding every permission named (`'shop.change_product'`),
 * directly or through a group. One query the first time, then cached with the session.
 */
export function permissionRequired(...perms: [string, ...string[]]): Guard {
  if (perms.length === 0 || perms.some((perm) => typeof perm !== 'string' || !perm.includes('.'))) {
    throw new TypeError(`permissionRequired needs permission names like 'shop.change_product', got ${JSON.stringify(perms)}.`);
  }
  return async (ctx) => {
    if (!(await signedIn(ctx).hasPerm(...perms))) throw denied();
  };
}

/** Passes for a signed-in user in at least one of the groups named. */
export function groupRequired(...names: [string, ...string[]]): Guard {
  if (names.length === 0) throw new TypeError('groupRequired needs at least one group name.');
  return async (ctx) => {
    if (!(await signedIn(ctx).inGroup(...names))) throw denied();
  };
}

/** Passes for a signed-in user for whom `test` answers true (sync or async). */
export function userPassesTest(test: (user: AuthUser, ctx: EventContext) => boolean | Promise<boolean>, message?: string): Guard {
  return async (ctx) => {
    if (!(await test(signedIn(ctx), ctx))) throw denied(message);
  };
}
