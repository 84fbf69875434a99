#ifndef REPORT_H
#define REPORT_H
#include <stdint.h>
extern uint64_t test_csum;
void report_rr(const char *name, uint64_t a, uint64_t b, uint64_t r);
void report_rrr(const char *name, uint64_t a, uint64_t b, uint64_t c, uint64_t r);
void report_r(const char *name, uint64_t a, uint64_t r);
void report_val(const char *name, uint64_t r);
void report_imm(const char *name, int64_t imm, uint64_t a, uint64_t r);
void report_csum(void);
#endif
