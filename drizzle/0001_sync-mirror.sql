CREATE TABLE "devices" (
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"device_type" text NOT NULL,
	"platform" text NOT NULL,
	"capabilities" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"app_version" text NOT NULL,
	"device_name" text NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"is_online" boolean DEFAULT false NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"hlc" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "devices_type" CHECK ("devices"."device_type" in ('TV', 'Phone', 'Tablet', 'Web', 'Desktop'))
);
--> statement-breakpoint
CREATE TABLE "watchlist_entries" (
	"user_id" text NOT NULL,
	"content_id" text NOT NULL,
	"tag" text NOT NULL,
	"added_hlc" text,
	"removed_hlc" text,
	"removed" boolean DEFAULT false NOT NULL,
	"added_at" timestamp with time zone,
	"removed_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "devices_user_device" ON "devices" USING btree ("user_id","device_id");--> statement-breakpoint
CREATE INDEX "devices_online" ON "devices" USING btree ("user_id") WHERE "devices"."is_online" and "devices"."active";--> statement-breakpoint
CREATE UNIQUE INDEX "watchlist_entries_user_tag" ON "watchlist_entries" USING btree ("user_id","tag");--> statement-breakpoint
CREATE INDEX "watchlist_entries_user_live" ON "watchlist_entries" USING btree ("user_id","content_id") WHERE not "watchlist_entries"."removed";--> statement-breakpoint
CREATE VIEW "public"."device_online_summary" AS (
  select user_id,
    (count(*) filter (where is_online))::int as online_devices,
    count(*)::int as devices,
    coalesce(array_agg(device_type order by device_type) filter (where is_online), '{}') as online_device_types,
    max(last_seen) as last_seen
  from devices
  where active
  group by user_id
);--> statement-breakpoint
CREATE VIEW "public"."progress_completed" AS (
  select user_id, content_id, position_seconds, duration_seconds, completion_percentage, device_id, hlc, last_watched_at
  from watch_history
  where active and (watched or completion_percentage >= 90)
);--> statement-breakpoint
CREATE VIEW "public"."progress_in_progress" AS (
  select user_id, content_id, position_seconds, duration_seconds, completion_percentage, device_id, hlc, last_watched_at
  from watch_history
  where active and not watched and completion_percentage < 90
);--> statement-breakpoint
CREATE VIEW "public"."watchlist_effective" AS (
  select user_id, content_id, min(added_at) as added_at, count(*)::int as live_tags
  from watchlist_entries
  where not removed and added_hlc is not null
  group by user_id, content_id
);