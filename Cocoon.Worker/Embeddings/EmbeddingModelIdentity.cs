using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Worker.Inference;

namespace Cocoon.Worker.Embeddings;

/// <summary>
/// The identity an embedding worker attests (the attestation document's model hash), as a GGUF's SHA-256 is a chat
/// worker's: SHA-256 of a short manifest that names the SHA-256 of each file (the ONNX graph, the vocabulary) and the
/// settings that change the vectors (pooling, normalisation, casing, token limit). Two workers with the same hash
/// return the same vectors; change a file or a setting and it is another model to the market.
/// </summary>
public static class EmbeddingModelIdentity
{
    public static async Task<string> Sha256Async(EmbeddingOptions options, string dataDir, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var model = await ModelIdentity.Sha256Async(options.Model, dataDir, cancellationToken).ConfigureAwait(false);
        var vocab = await ModelIdentity.Sha256Async(options.Vocab, dataDir, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Manifest(model, vocab, options))));
    }

    public static string Manifest(string modelSha256, string vocabSha256, EmbeddingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Create(CultureInfo.InvariantCulture,
            $"cocoon embedding model v1\nonnx {modelSha256}\nvocab {vocabSha256}\npooling {options.Pooling.ToString().ToLowerInvariant()}\nnormalize {(options.Normalize ? "true" : "false")}\nlowercase {(options.LowerCase ? "true" : "false")}\nmax_tokens {options.MaxTokens}\n");
    }
}
