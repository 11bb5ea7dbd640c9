// ThreadSanitizer builds only (TURNOUT_SANITIZE_THREAD). librdkafka starts its threads with
// C11 thrd_create and locks C11 mtx_t/cnd_t, which glibc implements without going through
// the pthread functions, so the sanitizer never sees those threads start (it crashes in its
// allocator on their first malloc) nor the locks that order their memory accesses (every
// access under such a lock is reported as a race). These definitions take precedence over
// glibc's for the whole process and route the C11 calls through the pthread functions the
// sanitizer intercepts; glibc's mtx_t and cnd_t are pthread_mutex_t and pthread_cond_t.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <threads.h>

#include <new>

namespace {
struct Start {
    thrd_start_t func;
    void* arg;
};

void* run(void* p) {
    const Start s = *static_cast<Start*>(p);
    delete static_cast<Start*>(p);
    return reinterpret_cast<void*>(static_cast<intptr_t>(s.func(s.arg)));
}
}  // namespace

extern "C" int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
    auto* s = new (std::nothrow) Start{func, arg};
    if (!s) return thrd_nomem;
    const int rc = pthread_create(thr, nullptr, run, s);
    if (rc == 0) return thrd_success;
    delete s;
    return rc == ENOMEM || rc == EAGAIN ? thrd_nomem : thrd_error;
}

extern "C" int thrd_join(thrd_t thr, int* res) {
    void* ret = nullptr;
    if (pthread_join(thr, &ret) != 0) return thrd_error;
    if (res) *res = static_cast<int>(reinterpret_cast<intptr_t>(ret));
    return thrd_success;
}

extern "C" int thrd_detach(thrd_t thr) { return pthread_detach(thr) == 0 ? thrd_success : thrd_error; }

namespace {
pthread_mutex_t* mx(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* cv(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }
int status(int rc) { return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : rc == EBUSY ? thrd_busy : thrd_error; }
static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) && sizeof(cnd_t) == sizeof(pthread_cond_t));
}  // namespace

extern "C" int mtx_init(mtx_t* m, int type) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    const int rc = pthread_mutex_init(mx(m), &attr);
    pthread_mutexattr_destroy(&attr);
    return status(rc);
}
extern "C" int mtx_lock(mtx_t* m) { return status(pthread_mutex_lock(mx(m))); }
extern "C" int mtx_trylock(mtx_t* m) { return status(pthread_mutex_trylock(mx(m))); }
extern "C" int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict ts) {
    return status(pthread_mutex_timedlock(mx(m), ts));
}
extern "C" int mtx_unlock(mtx_t* m) { return status(pthread_mutex_unlock(mx(m))); }
extern "C" void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(mx(m)); }

extern "C" int cnd_init(cnd_t* c) { return status(pthread_cond_init(cv(c), nullptr)); }
extern "C" int cnd_signal(cnd_t* c) { return status(pthread_cond_signal(cv(c))); }
extern "C" int cnd_broadcast(cnd_t* c) { return status(pthread_cond_broadcast(cv(c))); }
extern "C" int cnd_wait(cnd_t* c, mtx_t* m) { return status(pthread_cond_wait(cv(c), mx(m))); }
extern "C" int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict ts) {
    return status(pthread_cond_timedwait(cv(c), mx(m), ts));
}
extern "C" void cnd_destroy(cnd_t* c) { pthread_cond_destroy(cv(c)); }
