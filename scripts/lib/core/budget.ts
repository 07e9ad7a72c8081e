// Budgets are deadlines on an injectable clock: each component has its own (Component.budgetMs), a whole run has
// TOTAL_BUDGET_MS.

import type { Clock } from './clock.js';
import { formatDuration } from './duration.js';

/** deploy-all's and verify-all's deadline for everything together. */
export const TOTAL_BUDGET_MS = 30 * 60_000;

/** A point in time work must finish by. Children never outlive their parent. */
export class Deadline {
  readonly startedAt: number;
  readonly budgetMs: number;
  private readonly parent?: Deadline;
  constructor(
    readonly clock: Clock,
    budgetMs: number,
    parent?: Deadline,
  ) {
    this.startedAt = clock.now();
    this.budgetMs = budgetMs;
    this.parent = parent;
  }
  get endsAt(): number {
    const own = this.startedAt + this.budgetMs;
    return this.parent ? Math.min(own, this.parent.endsAt) : own;
  }
  elapsed(): number {
    return this.clock.now() - this.startedAt;
  }
  remaining(): number {
    return Math.max(0, this.endsAt - this.clock.now());
  }
  expired(): boolean {
    return this.remaining() <= 0;
  }
  /** A shorter deadline inside this one, e.g. a single command's timeout. */
  child(budgetMs: number): Deadline {
    return new Deadline(this.clock, budgetMs, this);
  }
  describe(): string {
    return `${formatDuration(this.elapsed())} of ${formatDuration(this.budgetMs)}`;
  }
}
