/**
 * GPUs a job was granted, as the job script reads them. Pure renderer.
 *
 * Where the GPU complex is an RSMAP (the usual way on OCS/GCS 9.x, e.g. `gpu=2(0 1)` on a host),
 * Grid Engine puts the ids it granted this job in `SGE_HGR_<complex>` ("0" or "0 1", measured on
 * OCS 9.1.4). The script then makes exactly those devices visible (CUDA_VISIBLE_DEVICES) and offers
 * Ray as many GPUs as were granted; a plain consumable (8.1.9 has no RSMAP) leaves both as the config
 * says (`--num-gpus` from the node type).
 */
import { shellQuote } from "../base/shell.js";

/** The shell lines that set RSGE_NUM_GPUS and CUDA_VISIBLE_DEVICES from the grant, if any. */
export function gpuGrantLines(complex: string): string {
  return `# GPUs: the ids Grid Engine granted (an RSMAP complex), and only those, are what Ray offers
RSGE_HGR=$(printenv ${shellQuote(`SGE_HGR_${complex}`)} || true)
if [ -n "$RSGE_HGR" ]; then
  read -r -a RSGE_GPU_IDS <<<"$RSGE_HGR"
  RSGE_NUM_GPUS=\${#RSGE_GPU_IDS[@]}
  CUDA_VISIBLE_DEVICES=$(IFS=,; echo "\${RSGE_GPU_IDS[*]}"); export CUDA_VISIBLE_DEVICES
  log "GPUs granted by Grid Engine: $RSGE_HGR (CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES, ray --num-gpus=$RSGE_NUM_GPUS)"
fi
`;
}
