using System.Text.Json;

namespace Cocoon.Local.Ask;

/// <summary>
/// The body of a streamed chat completion with one user message, as <c>ask</c> and <c>chaos</c> send it: usage in the
/// last event (it carries the cost), and only the sampling fields the caller sets.
/// </summary>
internal static class StreamedChatBody
{
    public static byte[] Create(string model, string prompt, int? maxTokens = null, double? temperature = null, TimeSpan? timeout = null)
    {
        using var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteStartArray("messages");
            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", prompt);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteBoolean("stream", true);
            json.WriteStartObject("stream_options");
            json.WriteBoolean("include_usage", true);
            json.WriteEndObject();
            if (temperature is { } t)
            {
                json.WriteNumber("temperature", t);
            }

            if (maxTokens is { } n)
            {
                json.WriteNumber("max_tokens", n);
            }

            if (timeout is { } limit)
            {
                json.WriteNumber("timeout", (int)limit.TotalSeconds);
            }

            json.WriteEndObject();
        }

        return body.ToArray();
    }
}
