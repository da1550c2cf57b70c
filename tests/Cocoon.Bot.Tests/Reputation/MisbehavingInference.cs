using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Inference;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// The real inference service seen through a test-only fault: a worker that fails every job (it throws before the
/// first token, so the worker refuses with worker-failed). Only tests can build one: no configuration reaches it.
/// </summary>
public sealed class FailingInference(IInferenceService inner) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        throw new InvalidOperationException("a test worker that fails every job");
#pragma warning disable CS0162 // an iterator needs a yield to be one
        yield break;
#pragma warning restore CS0162
    }
}

/// <summary>The real inference service, holding back its first piece for a while: a worker too slow for its class.</summary>
public sealed class SlowInference(IInferenceService inner, TimeSpan firstTokenDelay) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(firstTokenDelay, cancellationToken).ConfigureAwait(false);
        await foreach (var chunk in inner.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk;
        }
    }
}

/// <summary>
/// The real inference service, cut short: it passes on the first <paramref name="keep"/> pieces and then reports the
/// answer as finished (a worker saving compute by truncating). A test-only seam: no configuration reaches it.
/// </summary>
public sealed class TruncatingInference(IInferenceService inner, int keep) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var kept = 0;
        await foreach (var chunk in inner.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.IsFinal)
            {
                yield return chunk;
                yield break;
            }

            if (chunk.Text.Length > 0 && kept++ == keep)
            {
                // Stop here, claiming an honest stop with the tokens actually sent.
                yield return new GenerationChunk(string.Empty, new GenerationUsage(1, keep, FinishReason.Stop, TimeSpan.Zero, TimeSpan.Zero));
                yield break;
            }

            yield return chunk;
        }
    }
}
