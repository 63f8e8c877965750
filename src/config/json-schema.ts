/** The JSON schema of the cluster config, for editors (yaml-language-server), generated from the zod schema. */
import { z } from "zod";
import { configSchema } from "./schema.js";

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>),
    $id: "https://github.com/ray-sge/ray-sge/schema/ray-sge-config.schema.json",
    title: "ray-sge cluster config",
    description: "A Ray cluster on Grid Engine. See README.md, 'Config reference'.",
  };
}
