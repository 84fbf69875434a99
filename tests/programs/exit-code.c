/* exit-code: the finisher reports a non-zero status.  expect-exit: 3 */
#include "test.h"

int main(void)
{
    uart_puts("exiting with status 3\n");
    return 3;
}
