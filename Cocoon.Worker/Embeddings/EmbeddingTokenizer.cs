using Cocoon.Engine.Protocol;
using Microsoft.ML.Tokenizers;

namespace Cocoon.Worker.Embeddings;

/// <summary>
/// BERT WordPiece through Microsoft.ML.Tokenizers' BertTokenizer: [CLS] ids [SEP], cut to the model's limit only when
/// the request asked to truncate (as Hugging Face's truncation=True: the first tokens are kept, [SEP] stays last).
/// </summary>
public sealed class EmbeddingTokenizer
{
    private readonly BertTokenizer _bert;
    private readonly int _maxTokens;
    private readonly int _vocabularySize;

    public EmbeddingTokenizer(EmbeddingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _bert = BertTokenizer.Create(options.Vocab, new BertOptions { LowerCaseBeforeTokenization = options.LowerCase });
        _maxTokens = options.MaxTokens;
        _vocabularySize = File.ReadLines(options.Vocab).Count(l => l.Length > 0);
    }

    public int ClassificationTokenId => _bert.ClassificationTokenId;

    public int SeparatorTokenId => _bert.SeparatorTokenId;

    /// <summary>The ids the model runs on for one input; throws <see cref="InputTooLongException"/> past the limit unless truncating.</summary>
    public int[] Encode(EmbeddingInput input, int index, bool truncate, out bool truncated)
    {
        ArgumentNullException.ThrowIfNull(input);
        IReadOnlyList<int> body = input.Text is { } text ? _bert.EncodeToIds(text, addSpecialTokens: false) : input.Tokens!;
        if (input.Tokens is { } ids && ids.Any(id => id >= _vocabularySize))
        {
            throw new ArgumentException($"input[{index}] holds a token id outside this model's vocabulary of {_vocabularySize}.", nameof(input));
        }

        var total = body.Count + EmbeddingRules.SpecialTokens;
        truncated = total > _maxTokens;
        if (truncated && !truncate)
        {
            throw new InputTooLongException(index, total, _maxTokens);
        }

        var keep = Math.Min(body.Count, _maxTokens - EmbeddingRules.SpecialTokens);
        var result = new int[keep + EmbeddingRules.SpecialTokens];
        result[0] = ClassificationTokenId;
        for (var i = 0; i < keep; i++)
        {
            result[i + 1] = body[i];
        }

        result[^1] = SeparatorTokenId;
        return result;
    }
}
