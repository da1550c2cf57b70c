using Microsoft.Win32.SafeHandles;

namespace Cocoon.Worker.Native;

/// <summary>A llama_context. It holds a reference on its model so the model outlives it whatever the dispose order.</summary>
internal sealed class SafeLlamaContextHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly SafeLlamaModelHandle? _model;
    private SafeGgmlThreadpoolHandle? _threadpool;

    public SafeLlamaContextHandle()
        : base(ownsHandle: true)
    {
    }

    private SafeLlamaContextHandle(SafeLlamaModelHandle model)
        : base(ownsHandle: true)
    {
        _model = model;
    }

    /// <summary>llama_init_from_model; throws with the reason when llama.cpp returns NULL.</summary>
    public static SafeLlamaContextHandle Create(SafeLlamaModelHandle model, LlamaContextParams parameters)
    {
        ArgumentNullException.ThrowIfNull(model);
        var added = false;
        model.DangerousAddRef(ref added);
        var context = new SafeLlamaContextHandle(model);
        try
        {
            context.SetHandle(LlamaNative.llama_init_from_model(model, parameters));
        }
        catch
        {
            model.DangerousRelease();
            throw;
        }

        if (context.IsInvalid)
        {
            context.Dispose();
            throw new LlamaException(
                $"llama.cpp could not create a context (n_ctx {parameters.NCtx}, n_seq_max {parameters.NSeqMax}, n_batch {parameters.NBatch}): " +
                "out of memory or an unsupported setting; see the llama.cpp log above. Lower Llama:ContextSize or Llama:MaxConcurrency.");
        }

        return context;
    }

    /// <summary>llama_attach_threadpool for decoding and prompts; the context holds a reference so the pool outlives it.</summary>
    public void AttachThreadpool(SafeGgmlThreadpoolHandle threadpool)
    {
        ArgumentNullException.ThrowIfNull(threadpool);
        if (_threadpool is not null)
        {
            throw new InvalidOperationException("A threadpool is already attached.");
        }

        var added = false;
        threadpool.DangerousAddRef(ref added);
        _threadpool = threadpool;
        LlamaNative.llama_attach_threadpool(this, threadpool, 0);
    }

    protected override bool ReleaseHandle()
    {
        if (handle != 0)
        {
            LlamaNative.llama_free(handle);
        }

        _threadpool?.DangerousRelease();
        _model?.DangerousRelease();
        return true;
    }

    // An invalid handle never runs ReleaseHandle, so the model reference is dropped here instead.
    protected override void Dispose(bool disposing)
    {
        var wasInvalid = IsInvalid && !IsClosed;
        base.Dispose(disposing);
        if (wasInvalid)
        {
            _model?.DangerousRelease();
        }
    }
}
