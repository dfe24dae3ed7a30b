CREATE TABLE "preference_profiles" (
	"user_id" text PRIMARY KEY NOT NULL,
	"weights" jsonb NOT NULL,
	"anchors" jsonb NOT NULL,
	"views" integer NOT NULL,
	"finished" integer NOT NULL,
	"abandoned" integer NOT NULL,
	"confidence" double precision NOT NULL,
	"half_life_days" double precision NOT NULL,
	"last_view_at" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	"built_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "profile_jobs" (
	"job_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"detail" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_adapters" (
	"user_id" text PRIMARY KEY NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"bias" double precision NOT NULL,
	"weights" jsonb NOT NULL,
	"examples" integer NOT NULL,
	"positives" integer NOT NULL,
	"negatives" integer NOT NULL,
	"loss" double precision NOT NULL,
	"request_hlc" text NOT NULL,
	"job_id" text NOT NULL,
	"trained_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "profile_jobs_user_recent" ON "profile_jobs" USING btree ("user_id","finished_at" DESC NULLS LAST);