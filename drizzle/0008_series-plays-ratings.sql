CREATE TABLE "plays" (
	"user_id" text NOT NULL,
	"play_id" text NOT NULL,
	"content_id" text NOT NULL,
	"series_id" text,
	"watched_at" timestamp with time zone NOT NULL,
	"device_id" text,
	"active" boolean DEFAULT true NOT NULL,
	"hlc" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plays_user_id_play_id_pk" PRIMARY KEY("user_id","play_id")
);
--> statement-breakpoint
CREATE TABLE "ratings" (
	"user_id" text NOT NULL,
	"content_id" text NOT NULL,
	"rating" integer,
	"rated_at" timestamp with time zone NOT NULL,
	"hlc" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ratings_user_id_content_id_pk" PRIMARY KEY("user_id","content_id"),
	CONSTRAINT "ratings_range" CHECK ("ratings"."rating" is null or "ratings"."rating" between 1 and 10)
);
--> statement-breakpoint
ALTER TABLE "content" ADD COLUMN "added_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "plays_user_recent" ON "plays" USING btree ("user_id","watched_at" DESC NULLS LAST) WHERE "plays"."active";--> statement-breakpoint
CREATE INDEX "plays_user_content" ON "plays" USING btree ("user_id","content_id");--> statement-breakpoint
CREATE INDEX "plays_recent" ON "plays" USING btree ("watched_at") WHERE "plays"."active";--> statement-breakpoint
CREATE INDEX "ratings_content" ON "ratings" USING btree ("content_id") WHERE "ratings"."rating" is not null;