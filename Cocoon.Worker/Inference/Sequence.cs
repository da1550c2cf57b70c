using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>One request's state while it is queued or decoding. Touched by the decode thread only, except Cancel.</summary>
internal sealed class Sequence : IDisposable
{
    private int _cancelled;

    public Sequence(int[] promptTokens, SamplingOptions sampling, string? cacheScope = null)
    {
        PromptTokens = promptTokens;
        Sampling = sampling;
        CacheScope = cacheScope;
        Text = new TextStream(sampling.Stop);
    }

    public int[] PromptTokens { get; }

    /// <summary>A resumed answer's delivered tokens (the tail of PromptTokens), fed to the sampler's history; see Continuation.</summary>
    public int[] History { get; init; } = [];

    /// <summary>A resumed answer's last delivered token, written again before anything new (see TokenHealing); null otherwise.</summary>
    public TokenHealing? Healing { get; init; }

    public SamplingOptions Sampling { get; }

    /// <summary>The job's prefix-cache scope (see GenerationRequest.CacheScope); null = no caching.</summary>
    public string? CacheScope { get; }

    /// <summary>Prompt tokens found in the prefix cache: the sequence started at this position.</summary>
    public int CachedTokens { get; set; }

    /// <summary>Sampled tokens in order (end-of-generation excluded); the first Position - prompt length of them are in the KV cache.</summary>
    public List<int> Generated { get; } = [];

    public TextStream Text { get; }

    /// <summary>The end-of-generation token the sampler drew, or -1 (a length cut, a stop string, a cancel).</summary>
    public int EndToken { get; set; } = -1;

    /// <summary>
    /// The service's own warm-up at load (see LlamaInferenceService.WarmUpAsync): when it ends, the decode loop clears
    /// the whole KV cache and its counters, so the first job finds the state of a fresh context.
    /// </summary>
    public bool IsWarmUp { get; init; }

    /// <summary>Set for a spot check: the "prompt" is prompt + answer, scored instead of sampled (see ScoreRun).</summary>
    public ScoreRun? Score { get; init; }

    /// <summary>What the answer's receipt-side token list is: the drawn tokens, the end-of-generation token last.</summary>
    public int[] AnswerTokens() => EndToken >= 0 ? [.. Generated, EndToken] : [.. Generated];

    public Channel<GenerationChunk> Output { get; } = Channel.CreateUnbounded<GenerationChunk>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    public int SeqId { get; set; } = -1;

    public SamplerChain? Sampler { get; set; }

    /// <summary>Prompt tokens already submitted to llama_decode.</summary>
    public int PromptFed { get; set; }

    /// <summary>Tokens in this sequence's KV cache (its next position).</summary>
    public int Position { get; set; }

    /// <summary>Position before the current batch, to roll back an aborted decode.</summary>
    public int PositionBeforeBatch { get; set; }

    public int PromptFedBeforeBatch { get; set; }

    public int NextToken { get; set; } = -1;

    /// <summary>Index of this sequence's logits in the current batch, or -1 when it has no output this step.</summary>
    public int OutputIndex { get; set; } = -1;

    public int CompletionTokens { get; set; }

    public long StartedAt { get; set; }

    public long FirstTokenAt { get; set; }

    /// <summary>Text decoded but not yet handed out (see LlamaInferenceOptions.ChunkIntervalMs).</summary>
    public System.Text.StringBuilder Pending { get; } = new();

    /// <summary>When the last chunk went out; 0 before the first.</summary>
    public long LastChunkAt { get; set; }

    public bool IsPrefilling => PromptFed < PromptTokens.Length;

    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;

    /// <summary>Called from any thread; returns true the first time.</summary>
    public bool Cancel() => Interlocked.Exchange(ref _cancelled, 1) == 0;

    /// <summary>The tokens whose cells this sequence holds now: the prompt fed so far, then the generated tokens decoded.</summary>
    public int[] CellTokens()
    {
        if (Position <= PromptTokens.Length)
        {
            return PromptTokens[..Position];
        }

        return [.. PromptTokens, .. System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Generated)[..(Position - PromptTokens.Length)]];
    }

    public void Dispose() => Sampler?.Dispose();
}
