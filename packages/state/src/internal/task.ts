import { assertClientValue } from '../clientValue.js';
import type { AnyHandler, TaskContext } from '../defineState.js';
import { StateError } from '../errors.js';
import type { JsonValue } from '../patch.js';
import type { ServerFrame } from '../protocol.js';
import { EventContextImpl } from './eventContext.js';
import type { StateInstance } from './stateInstance.js';
import type { Tab } from './tab.js';
import { isExpectedError, toWireError } from './wireError.js';

/**
 * How long a task may run updates back to back without the event loop turning. A task that
 * awaits nothing but its own updates chains microtasks only; past this, its next update waits
 * for a turn, so sockets, timers and other tabs' events are served meanwhile.
 */
const UPDATE_TURN_MS = 10;

class TaskContextImpl extends EventContextImpl implements TaskContext<object> {
  readonly signal: AbortSignal;
  /** When this task's current run of updates began (cleared once the event loop turns). */
  private runStart: number | undefined;

  constructor(
    parent: EventContextImpl,
    private readonly owner: Tab,
    private readonly instance: StateInstance,
    controller: AbortController,
  ) {
    super(parent, parent.state, parent.handler);
    // Carry what middleware set on the starting event (the user, locals).
    for (const key of Object.keys(parent)) if (!(key in this) || key === 'locals') (this as Record<string, unknown>)[key] = (parent as unknown as Record<string, unknown>)[key];
    this.signal = controller.signal;
  }

  update(change: (self: object) => void): Promise<void> {
    const now = performance.now();
    if (this.runStart === undefined) {
      this.runStart = now;
      setImmediate(() => {
        this.runStart = undefined;
      });
    } else if (now - this.runStart > UPDATE_TURN_MS) {
      // The loop has not turned for a while: let it (the immediate above runs first and clears runStart).
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.update(change));
    }
    return new Promise((resolve, reject) => {
      this.owner.enqueue(() => {
        if (this.signal.aborted) return reject(this.signal.reason);
        try {
          change(this.instance.self);
          this.flush();
          resolve();
        } catch (error) {
          this.owner.revert();
          this.takeActions();
          reject(error);
        }
      });
    });
  }

  /** Sends what changed (and the actions emitted) since the last frame. */
  flush(): void {
    const patch = this.owner.commit();
    const actions = this.takeActions();
    if (!patch && !actions) return;
    const frame: ServerFrame = { t: 'patch', patch: patch ?? {} };
    if (actions) frame.actions = actions;
    this.owner.send(frame);
  }
}

interface TaskStart {
  tab: Tab;
  instance: StateInstance;
  handler: AnyHandler;
  args: unknown;
  seq: number;
  parent: EventContextImpl;
  production: boolean;
  logError: (error: unknown, where: Record<string, unknown>) => void;
}

/** Starts a background task beside the tab's events; its end is reported with a `done` frame. */
export function startTask({ tab, instance, handler, args, seq, parent, production, logError }: TaskStart): void {
  const controller = new AbortController();
  tab.tasks.set(seq, controller);
  const task = new TaskContextImpl(parent, tab, instance, controller);
  const finish = (frame: ServerFrame) =>
    tab.enqueue(() => {
      tab.tasks.delete(seq);
      task.flush();
      tab.send(frame);
    });
  // Deferred to a microtask: the task body never runs inside the job that starts it.
  void Promise.resolve()
    .then(() => handler.run(task as never, args, task))
    .then(
      (value: unknown) => {
        if (controller.signal.aborted) throw controller.signal.reason;
        if (value !== undefined) assertClientValue(instance.name, `${parent.handler}() result`, value);
        const frame: ServerFrame = { t: 'done', seq };
        if (value !== undefined) frame.value = value as JsonValue;
        finish(frame);
      },
    )
    .catch((error: unknown) => {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      if (!isExpectedError(reason)) logError(reason, { tab: tab.id, state: instance.name, handler: parent.handler, seq });
      const wire = toWireError(reason instanceof StateError || !controller.signal.aborted ? reason : new StateError('STRATA_STATE_CANCELLED', 'The task was cancelled.'), production);
      finish({ t: 'done', seq, error: wire });
    });
}
