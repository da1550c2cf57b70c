namespace Cocoon.Worker.Inference;

/// <summary>The decode thread's work so far: llama_decode calls, time inside them, and time spent around them.</summary>
public sealed record DecodeLoopStats(long Steps, TimeSpan Decode, TimeSpan Host)
{
    public DecodeLoopStats Since(DecodeLoopStats earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        return new DecodeLoopStats(Steps - earlier.Steps, Decode - earlier.Decode, Host - earlier.Host);
    }
}
