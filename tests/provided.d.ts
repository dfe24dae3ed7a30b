declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    dbProxy: string;
    /** host:port of the recording HTTP server webhooks are pointed at (scripts/webhook-recorder.ts). */
    webhookRecorder: string;
  }
}

export {};
