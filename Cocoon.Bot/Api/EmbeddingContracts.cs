using System.Text.Json;

namespace Cocoon.Bot.Api;

/// <summary>
/// <c>POST /v1/embeddings</c> as OpenAI defines it. <c>input</c> is a string, an array of strings, an array of token
/// ids or an array of such arrays (read in <see cref="EmbeddingMapping"/>). <c>truncate</c> is Cocoon's own: cut inputs
/// longer than the model takes instead of refusing them.
/// </summary>
internal sealed class EmbeddingApiRequest
{
    public JsonElement? Input { get; set; }
    public string? Model { get; set; }
    public string? EncodingFormat { get; set; }
    public int? Dimensions { get; set; }
    public string? User { get; set; }
    public bool? Truncate { get; set; }
    public int? MaxCoefficient { get; set; }
    public double? Timeout { get; set; }
}
