/**
 * The queue consumer's personalization step: profiles follow the watch history and the ratings
 * (rebuilt on `session-ended`, on watched/unwatched/stopped progress, on ratings and on clears),
 * and queued jobs rebuild
 * a profile or train an adapter. It runs inside the batch's transaction, after the history rows
 * are written, and every write is a pure function of the stored history: a replayed batch
 * changes nothing.
 */

import type { Decoded, ProfileJobKind } from "../contracts/events";
import type { Queryable } from "../db/client";
import { dropAdaptersBefore, loadViews, recordJobs, saveAdapter, saveProfiles } from "../db/personalization";
import { insufficientData, trainAdapter, trainingExamples } from "../domain/adapter";
import { buildProfile } from "../domain/profile";

type AppliedEvent = Extract<Decoded, { kind: "event" }>["event"];

interface Job {
  jobId: string;
  userId: string;
  kind: ProfileJobKind;
  hlc: string;
  requestedAt: string;
}

function safeIso(text: string): string {
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : new Date().toISOString();
}

export class PersonalizationWork {
  private readonly rebuild = new Set<string>();
  private readonly jobs = new Map<string, Job>();
  /** Per user, the latest "clear all" of the batch. */
  private readonly clears = new Map<string, string>();

  /** Takes note of what an event asks of personalization; most events ask nothing. */
  note(event: AppliedEvent): void {
    switch (event.type) {
      case "session-ended":
        this.rebuild.add(event.user_id);
        break;
      case "progress-changed":
        // Playing reports change little; a finish, an unwatch or a stop changes the profile.
        if (event.data.watched || event.data.deleted || event.data.state === "stopped") this.rebuild.add(event.user_id);
        break;
      case "rating-changed":
        // An explicit signal: it outweighs the viewing of the same item.
        this.rebuild.add(event.user_id);
        break;
      case "history-cleared": {
        this.rebuild.add(event.user_id);
        const seen = this.clears.get(event.user_id);
        if (!seen || seen < event.data.before_hlc) this.clears.set(event.user_id, event.data.before_hlc);
        break;
      }
      case "profile-rebuild-requested":
      case "adapter-train-requested": {
        const kind: ProfileJobKind = event.type === "profile-rebuild-requested" ? "profile-rebuild" : "adapter-train";
        if (kind === "profile-rebuild") this.rebuild.add(event.user_id);
        this.jobs.set(event.data.job_id, {
          jobId: event.data.job_id,
          userId: event.user_id,
          kind,
          hlc: event.hlc,
          requestedAt: safeIso(event.occurred_at),
        });
        break;
      }
    }
  }

  get size(): number {
    return this.rebuild.size + this.jobs.size + this.clears.size;
  }

  async apply(tx: Queryable, opts: { halfLifeDays: number }): Promise<void> {
    if (this.size === 0) return;
    for (const [userId, beforeHlc] of this.clears) await dropAdaptersBefore(tx, userId, beforeHlc);

    const training = new Map<string, Job[]>();
    for (const job of this.jobs.values()) {
      if (job.kind !== "adapter-train") continue;
      training.set(job.userId, [...(training.get(job.userId) ?? []), job]);
    }
    const users = [...new Set([...this.rebuild, ...training.keys()])].sort();
    const views = await loadViews(tx, users);

    const profiles = [...this.rebuild].sort().map((userId) => ({
      userId,
      profile: buildProfile(views.get(userId) ?? [], opts),
    }));
    await saveProfiles(tx, profiles, opts.halfLifeDays);
    const builtFrom = new Map(profiles.map(({ userId, profile }) => [userId, profile.views]));

    const records: Parameters<typeof recordJobs>[1][number][] = [];
    for (const [userId, jobs] of training) {
      // Several requests in one batch: one training answers them all, credited to the latest.
      const latest = jobs.reduce((a, b) => (a.hlc >= b.hlc ? a : b));
      const examples = trainingExamples(views.get(userId) ?? [], opts.halfLifeDays);
      const model = trainAdapter(examples);
      if (model) await saveAdapter(tx, userId, model, { jobId: latest.jobId, requestHlc: latest.hlc });
      const detail = model
        ? `trained on ${model.examples} views (${model.positives} finished, ${model.negatives} abandoned)`
        : (insufficientData(examples) as string);
      for (const job of jobs) records.push({ ...job, status: model ? "done" : "skipped", detail });
    }
    for (const job of this.jobs.values()) {
      if (job.kind !== "profile-rebuild") continue;
      records.push({ ...job, status: "done", detail: `rebuilt from ${builtFrom.get(job.userId) ?? 0} views` });
    }
    await recordJobs(
      tx,
      records.map(({ jobId, userId, kind, status, detail, requestedAt }) => ({
        jobId,
        userId,
        kind,
        status,
        detail,
        requestedAt,
      })),
    );
  }
}
