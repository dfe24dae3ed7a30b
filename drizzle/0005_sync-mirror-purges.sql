CREATE TABLE "sync_mirror_purges" (
	"mirror" text PRIMARY KEY NOT NULL,
	"purged_before" timestamp with time zone NOT NULL,
	"ran_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "watchlist_entries_removed_age" ON "watchlist_entries" USING btree ("updated_at") WHERE "watchlist_entries"."removed";