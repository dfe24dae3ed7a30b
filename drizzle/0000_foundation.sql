CREATE TABLE "content" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"title" text NOT NULL,
	"series_id" text,
	"season_number" integer,
	"episode_number" integer,
	"year" integer,
	"genres" text[] DEFAULT '{}'::text[] NOT NULL,
	"platforms" text[] DEFAULT '{}'::text[] NOT NULL,
	"rating" double precision,
	"votes" integer DEFAULT 0 NOT NULL,
	"runtime_minutes" integer,
	"maturity_rating" text,
	"director" text,
	"credits_start_seconds" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "content_kind" CHECK ("content"."kind" in ('movie', 'series', 'episode'))
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"queue" text NOT NULL,
	"message_id" text NOT NULL,
	"reason" text NOT NULL,
	"body" jsonb,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "history_clears" (
	"user_id" text PRIMARY KEY NOT NULL,
	"before_hlc" text NOT NULL,
	"cleared_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "watch_history" (
	"user_id" text NOT NULL,
	"content_id" text NOT NULL,
	"position_seconds" double precision NOT NULL,
	"duration_seconds" double precision NOT NULL,
	"completion_percentage" double precision NOT NULL,
	"watched" boolean DEFAULT false NOT NULL,
	"device_id" text,
	"active" boolean DEFAULT true NOT NULL,
	"hlc" text NOT NULL,
	"last_watched_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "content_popular" ON "content" USING btree ("votes" DESC NULLS LAST,"id");--> statement-breakpoint
CREATE INDEX "content_series" ON "content" USING btree ("series_id","season_number","episode_number") WHERE "content"."series_id" is not null;--> statement-breakpoint
CREATE INDEX "content_year" ON "content" USING btree ("year");--> statement-breakpoint
CREATE UNIQUE INDEX "dead_letters_message" ON "dead_letters" USING btree ("queue","message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "watch_history_user_content" ON "watch_history" USING btree ("user_id","content_id");--> statement-breakpoint
CREATE INDEX "watch_history_user_recent" ON "watch_history" USING btree ("user_id","last_watched_at" DESC NULLS LAST) WHERE "watch_history"."active";--> statement-breakpoint
CREATE INDEX "watch_history_content" ON "watch_history" USING btree ("content_id") WHERE "watch_history"."active";