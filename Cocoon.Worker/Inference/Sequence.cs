using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>One request's state while it is queued or decoding. Touched by the decode thread only, except Cancel.</summary>
internal sealed class Sequence : IDisposable
{
    private int _cancelled;

    public Sequence(int[] promptTokens, SamplingOptions sampling)
    {
        PromptTokens = promptTokens;
        Sampling = sampling;
        Text = new TextStream(sampling.Stop);
    }

    public int[] PromptTokens { get; }

    public SamplingOptions Sampling { get; }

    public TextStream Text { get; }

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

    public void Dispose() => Sampler?.Dispose();
}
