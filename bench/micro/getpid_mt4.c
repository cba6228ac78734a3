/* (moat) getpid from 4 thread(s): see getpid_mt.h. */
#include "getpid_mt.h"

int main(int argc, char **argv)
{
    return getpid_mt_main(argc, argv, "getpid_mt4", 4);
}
