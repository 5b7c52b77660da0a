/* A stand-in for Windows' bcryptprimitives.dll, which wine 8 lacks. Go's
 * runtime (1.24 and later) loads it at start for ProcessPrng, its source of
 * random bytes; without it no Go program starts under wine. This one fills
 * the buffer from RtlGenRandom (advapi32's SystemFunction036), which wine
 * has. Used only by the wine test lane (make test-windows), never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	while (length > 0) {
		ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
		if (!SystemFunction036(data, chunk))
			return FALSE;
		data += chunk;
		length -= chunk;
	}
	return TRUE;
}
