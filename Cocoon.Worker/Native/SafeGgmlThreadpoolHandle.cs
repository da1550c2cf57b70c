using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Cocoon.Worker.Native;

/// <summary>
/// A ggml CPU threadpool that lives as long as the context it is attached to. Without one, ggml creates and joins a
/// disposable pool of threads on every llama_decode, which costs a thread start per token: llama.cpp's own tools
/// (llama-bench, common_init_from_params) attach a persistent pool for that reason. ggml_threadpool_new/free live in the
/// CPU backend plugin that ggml chose at run time, so they are found through the backend registry, not by symbol.
/// </summary>
internal sealed unsafe class SafeGgmlThreadpoolHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly delegate* unmanaged[Cdecl]<nint, void> _free;

    public SafeGgmlThreadpoolHandle()
        : base(ownsHandle: true)
    {
    }

    private SafeGgmlThreadpoolHandle(delegate* unmanaged[Cdecl]<nint, void> free)
        : base(ownsHandle: true)
    {
        _free = free;
    }

    /// <summary>
    /// A pool of <paramref name="threads"/> threads (the calling decode thread is one of them). <paramref name="poll"/> is
    /// ggml's polling level between graphs: 0 sleeps at once, 100 spins longest (llama.cpp's default is 50). Returns null
    /// when the loaded backends have no CPU backend with threadpools (then ggml's per-decode pool is used).
    /// </summary>
    public static SafeGgmlThreadpoolHandle? TryCreate(int threads, int poll)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threads, GgmlThreadpoolParams.MaxThreads);
        ArgumentOutOfRangeException.ThrowIfNegative(poll);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(poll, 100);
        var registry = LlamaNative.ggml_backend_reg_by_name("CPU\0"u8);
        if (registry == 0)
        {
            return null;
        }

        var create = (delegate* unmanaged[Cdecl]<GgmlThreadpoolParams*, nint>)LlamaNative.ggml_backend_reg_get_proc_address(registry, "ggml_threadpool_new\0"u8);
        var free = (delegate* unmanaged[Cdecl]<nint, void>)LlamaNative.ggml_backend_reg_get_proc_address(registry, "ggml_threadpool_free\0"u8);
        if (create is null || free is null)
        {
            return null;
        }

        GgmlThreadpoolParams parameters;
        LlamaNative.ggml_threadpool_params_init(&parameters, threads);
        parameters.Poll = (uint)poll;
        var pool = new SafeGgmlThreadpoolHandle(free);
        pool.SetHandle(create(&parameters));
        if (pool.IsInvalid)
        {
            pool.Dispose();
            throw new LlamaException($"ggml could not create a threadpool of {threads} threads (poll {poll}); see the llama.cpp log above.");
        }

        return pool;
    }

    protected override bool ReleaseHandle()
    {
        _free(handle);
        return true;
    }
}

/// <summary>struct ggml_threadpool_params of this build (ggml.h): 528 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GgmlThreadpoolParams
{
    public const int MaxThreads = 512; // GGML_MAX_N_THREADS

    public fixed byte CpuMask[MaxThreads];
    public int NThreads;
    public int Prio;
    public uint Poll;
    public byte StrictCpu;
    public byte Paused;
}
