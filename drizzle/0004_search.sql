CREATE TABLE "spell_corrections" (
	"misspelled" text PRIMARY KEY NOT NULL,
	"corrected" text NOT NULL,
	"frequency" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "spell_corrections_differ" CHECK ("spell_corrections"."misspelled" <> "spell_corrections"."corrected")
);
--> statement-breakpoint
CREATE INDEX "content_kind_popular" ON "content" USING btree ("kind","votes" DESC NULLS LAST,"id");