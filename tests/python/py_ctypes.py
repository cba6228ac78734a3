# ctypes: the dynamic loader at run time (CDLL of libc.so.6 and libm), calling C functions
# with ints, strings, doubles and buffers, a C callback (qsort), structures and pointers,
# errno through use_errno, and raw syscalls through libc.syscall.
import ctypes, ctypes.util, os

libc = ctypes.CDLL("libc.so.6", use_errno=True)
print("getpid matches:", libc.getpid() == os.getpid())
print("strlen:", libc.strlen(b"moat sandbox"))
buf = ctypes.create_string_buffer(32)
libc.snprintf(buf, 32, b"%d-%s", 42, b"x")
print("snprintf:", buf.value)
libm = ctypes.CDLL("libm.so.6")
libm.cos.restype = ctypes.c_double
libm.cos.argtypes = [ctypes.c_double]
print("cos(0):", libm.cos(0.0))
arr = (ctypes.c_int * 8)(5, 3, 9, 1, 7, 2, 8, 4)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort(arr, 8, ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
print("qsort with a Python callback:", list(arr))
class TS(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
ts = TS()
print("clock_gettime:", libc.clock_gettime(1, ctypes.byref(ts)), ts.tv_sec > 0 or ts.tv_nsec > 0)
fd = libc.open(b"/nonexistent", 0)
print("errno via use_errno:", fd, ctypes.get_errno() == 2)
print("raw syscall getppid (110):", libc.syscall(110) == os.getppid())
p = ctypes.cast(ctypes.create_string_buffer(b"pointer data"), ctypes.c_char_p)
print("pointer cast:", p.value)
mem = ctypes.create_string_buffer(16)
ctypes.memmove(mem, b"0123456789abcdef", 16)
print("memmove:", mem.raw)
print("sizeof long/pointer:", ctypes.sizeof(ctypes.c_long), ctypes.sizeof(ctypes.c_void_p))
print("done: ok")
