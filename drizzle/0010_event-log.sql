CREATE TABLE "event_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"user_id" text NOT NULL,
	"hlc" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"logged_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "event_log_event" ON "event_log" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "event_log_logged_at" ON "event_log" USING btree ("logged_at");--> statement-breakpoint
CREATE INDEX "event_log_type" ON "event_log" USING btree ("type","seq");--> statement-breakpoint
CREATE INDEX "event_log_user" ON "event_log" USING btree ("user_id","seq");