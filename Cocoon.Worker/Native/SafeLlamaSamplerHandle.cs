using Microsoft.Win32.SafeHandles;

namespace Cocoon.Worker.Native;

/// <summary>A llama_sampler chain; the chain owns and frees the samplers added to it.</summary>
internal sealed class SafeLlamaSamplerHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeLlamaSamplerHandle()
        : base(ownsHandle: true)
    {
    }

    private SafeLlamaSamplerHandle(nint handle)
        : base(ownsHandle: true)
    {
        SetHandle(handle);
    }

    public static SafeLlamaSamplerHandle CreateChain()
    {
        var chain = new SafeLlamaSamplerHandle(LlamaNative.llama_sampler_chain_init(new LlamaSamplerChainParams { NoPerf = 1 }));
        if (chain.IsInvalid)
        {
            chain.Dispose();
            throw new LlamaException("llama.cpp could not create a sampler chain (llama_sampler_chain_init returned NULL)");
        }

        return chain;
    }

    /// <summary>Adds a sampler created by one of the llama_sampler_init_* functions; the chain takes ownership.</summary>
    public void Add(nint sampler, string what)
    {
        if (sampler == 0)
        {
            throw new LlamaException($"llama.cpp could not create the {what} sampler");
        }

        LlamaNative.llama_sampler_chain_add(this, sampler);
    }

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_sampler_free(handle);
        return true;
    }
}
