// Writes schema/ray-sge-config.schema.json from the zod schema (npm run schema; a test keeps it in sync).
import { writeFileSync } from "node:fs";
import { configJsonSchema } from "../dist/config/json-schema.js";

writeFileSync(new URL("../schema/ray-sge-config.schema.json", import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
