/* pqx: the public API of libpqx, post-quantum file encryption and transfer. */
#ifndef PQX_H
#define PQX_H

#include <pqx/common.h>
#include <pqx/sha3.h>
#include <pqx/mlkem.h>
#include <pqx/xwing.h>
#include <pqx/hpke.h>
#include <pqx/io.h>
#include <pqx/age.h>
#include <pqx/channel.h>

#endif
