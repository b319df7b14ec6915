/* crc32c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every stream record. Uses the SSE4.2 crc32 instruction when
 * the CPU has it and a table (slicing by 8) otherwise; both give the same
 * values. Incremental: pass the previous result to continue.
 *
 *     uint32_t c = rn_crc32c(0, meta, meta_len);
 *     c = rn_crc32c(c, payload, payload_len);   // == crc of the two joined
 */
#ifndef RN_CRC32C_H
#define RN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf continuing from crc (0 to start). rn_crc32c(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t rn_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable table version, kept as the reference for tests. */
uint32_t rn_crc32c_ref(uint32_t crc, const void *buf, size_t len);

#endif
