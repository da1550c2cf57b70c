using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>
/// One request's llama.cpp sampler chain, built from its SamplingOptions: repetition penalty (when not 1), then
/// greedy at temperature 0, else top-k, top-p, min-p (each only when it filters anything), temperature and a seeded
/// draw. It owns the chain handle, which frees every sampler added to it.
/// </summary>
internal sealed class SamplerChain : IDisposable
{
    // Tokens the repetition penalty looks back over.
    private const int PenaltyWindow = 64;

    private readonly SafeLlamaSamplerHandle _chain;

    private SamplerChain(SafeLlamaSamplerHandle chain) => _chain = chain;

    public static SamplerChain Create(SamplingOptions o, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(o);
        var chain = SafeLlamaSamplerHandle.CreateChain();
        try
        {
            if (o.RepetitionPenalty != 1f)
            {
                chain.Add(LlamaNative.llama_sampler_init_penalties(vocabSize, PenaltyWindow, o.RepetitionPenalty, 0f, 0f), "repetition penalty");
            }

            if (o.Temperature == 0f)
            {
                chain.Add(LlamaNative.llama_sampler_init_greedy(), "greedy");
                return new SamplerChain(chain);
            }

            if (o.TopK > 0)
            {
                chain.Add(LlamaNative.llama_sampler_init_top_k(o.TopK), "top-k");
            }

            if (o.TopP < 1f)
            {
                chain.Add(LlamaNative.llama_sampler_init_top_p(o.TopP, 1), "top-p");
            }

            if (o.MinP > 0f)
            {
                chain.Add(LlamaNative.llama_sampler_init_min_p(o.MinP, 1), "min-p");
            }

            chain.Add(LlamaNative.llama_sampler_init_temp(o.Temperature), "temperature");
            chain.Add(LlamaNative.llama_sampler_init_dist(o.Seed), "distribution");
            return new SamplerChain(chain);
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    /// <summary>Samples (and accepts) the next token from the logits at outputIndex of the last decoded batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Sample(SafeLlamaContextHandle context, int outputIndex) => LlamaNative.llama_sampler_sample(_chain, context, outputIndex);

    /// <summary>Adds tokens to the chain's history (what the repetition penalty looks back over) without sampling.</summary>
    public void Accept(ReadOnlySpan<int> tokens)
    {
        foreach (var token in tokens)
        {
            LlamaNative.llama_sampler_accept(_chain, token);
        }
    }

    public void Dispose() => _chain.Dispose();
}
