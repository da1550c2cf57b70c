using System.Globalization;
using System.Text.Json;
using Cocoon.Bot.Hosting;
using Cocoon.Engine.Protocol;

namespace Cocoon.Bot.Api;

/// <summary>An embeddings request as the dispatcher takes it, and how the caller wants the vectors back.</summary>
internal sealed record MappedEmbedding(string Model, EmbeddingRequest Embedding, bool Base64, int? Dimensions, int MaxCoefficient, TimeSpan Timeout);

/// <summary>
/// Reads OpenAI's <c>input</c> shapes (a string, strings, token ids, arrays of token ids) onto <see cref="EmbeddingRequest"/>
/// and checks the request with <see cref="EmbeddingRules"/>, the rules the worker applies again. Nothing here echoes an input.
/// </summary>
internal static class EmbeddingMapping
{
    public static MappedEmbedding Map(EmbeddingApiRequest r, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(r);
        var model = RequestMapping.RequireModel(r.Model);
        var base64 = r.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            _ => throw ApiProblem.Invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format", "invalid_value"),
        };
        if (r.Dimensions is <= 0)
        {
            throw ApiProblem.Invalid("'dimensions' must be at least 1.", "dimensions", "invalid_value");
        }

        var embedding = new EmbeddingRequest { Inputs = Inputs(r.Input), Truncate = r.Truncate ?? false };
        if (EmbeddingRules.Check(embedding) is { } violation)
        {
            throw ApiProblem.Invalid(violation.Message, violation.Param, violation.Code);
        }

        return new MappedEmbedding(model, embedding, base64, r.Dimensions, RequestMapping.MaxCoefficient(r.MaxCoefficient), RequestMapping.Timeout(r.Timeout, options));
    }

    private static List<EmbeddingInput> Inputs(JsonElement? input)
    {
        switch (input)
        {
            case null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined }:
                throw ApiProblem.Invalid("'input' is required: a string, an array of strings, or token ids.", "input", "missing_required_parameter");
            case { ValueKind: JsonValueKind.String } s:
                return [new EmbeddingInput { Text = s.GetString() }];
            case { ValueKind: JsonValueKind.Array } array:
                var items = array.EnumerateArray().ToList();
                if (items.Count == 0)
                {
                    throw ApiProblem.Invalid("'input' must be a non-empty string or array.", "input", "missing_required_parameter");
                }

                if (items.Count > EmbeddingRules.MaxInputs)
                {
                    throw ApiProblem.Invalid(string.Create(CultureInfo.InvariantCulture, $"'input' may hold at most {EmbeddingRules.MaxInputs} inputs; this request has {items.Count}. Split it into several requests."), "input", "invalid_value");
                }

                // One array of numbers is one input of token ids; otherwise every element is one input.
                if (items.All(i => i.ValueKind == JsonValueKind.Number))
                {
                    return [new EmbeddingInput { Tokens = Tokens(array, -1) }];
                }

                var inputs = new List<EmbeddingInput>(items.Count);
                for (var i = 0; i < items.Count; i++)
                {
                    inputs.Add(items[i].ValueKind switch
                    {
                        JsonValueKind.String => new EmbeddingInput { Text = items[i].GetString() },
                        JsonValueKind.Array => new EmbeddingInput { Tokens = Tokens(items[i], i) },
                        _ => throw ApiProblem.Invalid(string.Create(CultureInfo.InvariantCulture, $"input[{i}] must be a string or an array of token ids."), "input", "invalid_value"),
                    });
                }

                return inputs;
            default:
                throw ApiProblem.Invalid("'input' must be a string, an array of strings, or token ids.", "input", "invalid_value");
        }
    }

    private static int[] Tokens(JsonElement array, int index)
    {
        var ids = new List<int>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id) || id < 0)
            {
                var where = index < 0 ? "input" : string.Create(CultureInfo.InvariantCulture, $"input[{index}]");
                throw ApiProblem.Invalid($"{where} must hold token ids: whole numbers from 0.", "input", "invalid_value");
            }

            ids.Add(id);
        }

        return [.. ids];
    }
}
