// Types `import { env, exports } from "cloudflare:workers"` with this Worker's bindings and exports.
import type { Env as WorkerEnv } from "./env";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("./index");
      durableNamespaces: "UserState" | "RateLimiter";
    }
    interface Env extends WorkerEnv {}
  }
}
