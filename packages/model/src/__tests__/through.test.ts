import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModel, f, runInQueryScope, type AnyModel } from '..';
import { databases } from './helpers.js';

const Person = defineModel('club.Person', {
  fields: {
    name: f.text({ maxLength: 40 }),
    // The through model points back at Person, so its thunk is annotated to break the type cycle.
    clubs: f.manyToMany(() => Club, { relatedName: 'members', through: (): AnyModel => Membership }),
  },
});
const Club = defineModel('club.Club', { fields: { name: f.text({ maxLength: 40 }) } });
/** An explicit through model: the join rows carry data of their own. */
const Membership = defineModel('club.Membership', {
  fields: {
    person: f.foreignKey(() => Person, { relatedName: 'memberships' }),
    club: f.foreignKey(() => Club, { relatedName: 'memberships' }),
    role: f.choice({ choices: ['member', 'chair'], default: 'member' }),
  },
  indexes: [{ fields: ['person', 'club'], unique: true }],
});

describe.each(databases)('many-to-many through an explicit model ($name)', (db) => {
  beforeAll(() => db.open([Person, Club, Membership]));
  afterAll(() => db.close());

  it('reads, filters, prefetches and edits the relation through the explicit model', async () => {
    const [ada, bob] = await Person.objects.bulkCreate([{ name: 'Ada' }, { name: 'Bob' }]);
    const [chess, rowing] = await Club.objects.bulkCreate([{ name: 'Chess' }, { name: 'Rowing' }]);
    await Membership.objects.create({ person: ada!, club: chess!, role: 'chair' });
    await Person.objects.related(ada!, 'clubs').add(rowing!);
    await Person.objects.related(bob!, 'clubs').add(rowing!);

    expect((await Person.objects.related(ada!, 'clubs').all()).map((c) => c.name)).toEqual(['Chess', 'Rowing']);
    expect((await Membership.objects.filter({ person: ada!, club: rowing! }).first())?.role).toBe('member');
    expect((await Person.objects.filter({ clubs: { name: 'Chess' } })).map((p) => p.name)).toEqual(['Ada']);

    const { result, count } = await runInQueryScope(() => Club.objects.prefetch('members').orderBy('name').fetch());
    expect(count).toBe(2);
    expect(result.map((club) => [club.name, (club.members as { name: string }[]).map((p) => p.name).sort()])).toEqual([
      ['Chess', ['Ada']],
      ['Rowing', ['Ada', 'Bob']],
    ]);

    await Person.objects.related(ada!, 'clubs').remove(chess!);
    expect(await Membership.objects.filter({ person: ada! }).count()).toBe(1);
    expect(await Club.objects.count()).toBe(2);
  });
});
