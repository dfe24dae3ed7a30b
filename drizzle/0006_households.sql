CREATE TABLE "erased_users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"erased_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"maturity_limit" text,
	"pin_hash" text,
	"is_owner" boolean DEFAULT false NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profiles_maturity_limit" CHECK ("profiles"."maturity_limit" is null or "profiles"."maturity_limit" in ('TV-Y', 'TV-Y7', 'G', 'TV-G', 'PG', 'TV-PG', 'PG-13', 'TV-14', 'R', 'TV-MA', 'NC-17'))
);
--> statement-breakpoint
ALTER TABLE "token_families" ADD COLUMN "profile_id" text;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_account_id_users_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "profiles_account_name" ON "profiles" USING btree ("account_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "profiles_account_owner" ON "profiles" USING btree ("account_id") WHERE "profiles"."is_owner";--> statement-breakpoint
CREATE INDEX "profiles_account" ON "profiles" USING btree ("account_id","created_at");--> statement-breakpoint
ALTER TABLE "token_families" ADD CONSTRAINT "token_families_profile_id_profiles_id_fk" FOREIGN KEY ("profile_id") REFERENCES "public"."profiles"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "token_families_profile" ON "token_families" USING btree ("profile_id");