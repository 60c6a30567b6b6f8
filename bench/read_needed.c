/* The floor for `tuitrack ls --all --json` on an `mlruns` store: open and read exactly the files
 * ls needs, and nothing else, with directory-fd relative opens (openat) and no parsing.
 *
 *     cc -O2 -o read_needed read_needed.c && ./read_needed STORE
 *
 * Reads every experiment's meta.yaml (in the store and in .trash) and its tags, and for every run
 * folder (a subfolder with a meta.yaml) its meta.yaml, every file under params/ and tags/, and the
 * last 4 KiB of every file under metrics/ (keys with '/' are subfolders). Prints what it read:
 * "experiments runs files bytes". bench/bench_scale.py compiles it into a temporary folder.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL 4096

static long experiments, runs, files, bytes;
static char buffer[1 << 16];

static int skip(const char *name) {
    return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

/* Read a whole (small) file, relative to a directory fd. Returns -1 when it cannot be opened. */
static int read_all(int dir, const char *name) {
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) bytes += n;
    close(fd);
    files++;
    return 0;
}

static void read_tail(int dir, const char *name) {
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0) {
        off_t start = st.st_size > TAIL ? st.st_size - TAIL : 0;
        ssize_t n = pread(fd, buffer, TAIL, start);
        if (n > 0) bytes += n;
    }
    close(fd);
    files++;
}

/* Every regular file of a folder (recursively: metric keys with '/'), whole or its tail. */
static void read_folder(int parent, const char *name, int tail) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) { close(fd); return; }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (skip(entry->d_name)) continue;
        if (entry->d_type == DT_DIR) {
            read_folder(fd, entry->d_name, tail);
        } else if (tail) {
            read_tail(fd, entry->d_name);
        } else {
            read_all(fd, entry->d_name);
        }
    }
    closedir(dir);
}

static void read_run(int experiment, const char *name) {
    int fd = openat(experiment, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    if (read_all(fd, "meta.yaml") == 0) {
        runs++;
        read_folder(fd, "params", 0);
        read_folder(fd, "tags", 0);
        read_folder(fd, "metrics", 1);
    }
    close(fd);
}

static void read_experiments(int base) {
    DIR *dir = fdopendir(dup(base));
    if (dir == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (skip(entry->d_name) || entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
        int fd = openat(base, entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) continue;
        if (read_all(fd, "meta.yaml") == 0) {
            experiments++;
            read_folder(fd, "tags", 0);
            DIR *inner = fdopendir(dup(fd));
            struct dirent *run;
            while (inner != NULL && (run = readdir(inner)) != NULL) {
                if (run->d_type == DT_DIR && !skip(run->d_name) && strcmp(run->d_name, "tags") != 0)
                    read_run(fd, run->d_name);
            }
            if (inner != NULL) closedir(inner);
        }
        close(fd);
    }
    closedir(dir);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE\n", argv[0]);
        return 2;
    }
    int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) { perror(argv[1]); return 1; }
    read_experiments(root);
    int trash = openat(root, ".trash", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (trash >= 0) { read_experiments(trash); close(trash); }
    printf("%ld %ld %ld %ld\n", experiments, runs, files, bytes);
    return 0;
}
