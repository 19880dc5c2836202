// SPDX-License-Identifier: MIT
/*
 * dlopens LIB after recording started and burns SECONDS of CPU inside it, so
 * the library's mapping appears mid-recording.
 *   rec_dl LIB SECONDS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	double (*burn)(double);
	void *h;

	if (argc < 3)
		return 2;
	usleep(100000); /* the library is mapped well after the recording began */
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "rec_dl: %s\n", dlerror());
		return 1;
	}
	burn = (double (*)(double))dlsym(h, "rec_dl_burn");
	if (!burn)
		return 1;
	printf("pid %d\n", (int)getpid());
	burn(atof(argv[2]));
	return 0;
}
