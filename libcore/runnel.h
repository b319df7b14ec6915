/* runnel.h — the umbrella header of libcore: include this to get every
 * public module. Each module's header states its own contract. */
#ifndef RUNNEL_H
#define RUNNEL_H

#define RN_VERSION "0.1.0"

#include "err.h"
#include "io.h"
#include "log.h"
#include "cli.h"
#include "rng.h"
#include "tensor.h"
#include "crc32c.h"
#include "stream.h"
#include "npy.h"
#include "select.h"
#include "vismeta.h"
#include "blas.h"
#include "ops.h"
#include "optim.h"
#include "mla.h"
#include "ops_moe.h"
#include "lm.h"
#include "trainer.h"
#include "lm_decode.h"
#include "lm_load.h"
#include "sample.h"
#include "spec.h"
#include "bpe.h"
#include "ckpt.h"
#include "cfg.h"
#include "img.h"
#include "video.h"
#include "draw.h"

#endif
