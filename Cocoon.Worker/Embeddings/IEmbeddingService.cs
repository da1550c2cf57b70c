using Cocoon.Engine.Protocol;

namespace Cocoon.Worker.Embeddings;

/// <summary>
/// Embeds inputs on one loaded embedding model. Invalid requests throw ArgumentException (an input longer than the
/// model takes: <see cref="InputTooLongException"/>) before anything runs.
/// </summary>
public interface IEmbeddingService
{
    ModelInfo Model { get; }

    Task<EmbeddingResult> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken);
}
