declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    dbProxy: string;
  }
}

export {};
