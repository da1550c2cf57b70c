using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cocoon.Local.Ask;

namespace Cocoon.Local.Chaos;

/// <summary>How one streamed request ended, as its client saw it.</summary>
internal sealed record StreamOutcome(
    int Gateway,
    int Prompt,
    string? RequestId,
    int? Status,
    string Text,
    bool Done,
    string? ErrorCode,
    long? Cost,
    string? Transport,
    IReadOnlyList<string> Anomalies,
    DateTime Started,
    DateTime Ended)
{
    /// <summary>200, [DONE], no error event and a cost: the client has its whole answer and knows its price.</summary>
    public bool Completed => Status == 200 && Done && ErrorCode is null && Cost is not null;

    /// <summary>A status with an OpenAI error body, or an error event in the stream: the client was told.</summary>
    public bool FailedClearly => !Completed && ErrorCode is not null;

    /// <summary>The connection to the gateway could not be made: nothing was sent, so retrying elsewhere is safe.</summary>
    public bool Refused => Transport == "refused";
}

/// <summary>One streamed chat completion the way an OpenAI client sends it, read event by event.</summary>
internal static class StreamedRequest
{
    public static async Task<StreamOutcome> RunAsync(
        HttpClient http, string baseUrl, string apiKey, string model, int gateway, int prompt, string text, int maxTokens, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        string? requestId = null, errorCode = null, transport = null;
        int? status = null;
        long? cost = null;
        var done = false;
        var answer = new StringBuilder();
        var anomalies = new List<string>();
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Longer than the gateway's own limit (the request's timeout plus 5 s): silence past it is a lost answer.
        budget.CancelAfter(timeout + TimeSpan.FromSeconds(30));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions")
            {
                // Greedy: the same prompt always gets the same text, so a spliced or repeated answer shows.
                Content = new ByteArrayContent(StreamedChatBody.Create(model, text, maxTokens, temperature: 0, timeout: timeout)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, budget.Token);
            status = (int)response.StatusCode;
            requestId = response.Headers.TryGetValues("X-Request-Id", out var ids) ? ids.FirstOrDefault() : null;
            if (!response.IsSuccessStatusCode)
            {
                errorCode = ErrorCode(await response.Content.ReadAsStringAsync(budget.Token)) ?? $"http_{status}";
            }
            else
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(budget.Token), Encoding.UTF8);
                while (await reader.ReadLineAsync(budget.Token) is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var data = line["data: ".Length..];
                    if (done)
                    {
                        anomalies.Add("an event after [DONE]");
                    }

                    if (data == "[DONE]")
                    {
                        done = true;
                        continue;
                    }

                    try
                    {
                        Event(data, requestId, answer, anomalies, ref errorCode, ref cost);
                    }
                    catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
                    {
                        anomalies.Add("a malformed event");
                    }
                }
            }
        }
        catch (HttpRequestException ex) when (status is null && ex.HttpRequestError == HttpRequestError.ConnectionError || ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            transport = "refused";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            transport = "cut";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            transport = "no-answer";
        }

        if (transport is null && status == 200 && !done && errorCode is null)
        {
            transport = "ended-early";
        }

        return new StreamOutcome(gateway, prompt, requestId, status, answer.ToString(), done, errorCode, cost, transport, anomalies, started, DateTime.UtcNow);
    }

    private static void Event(string data, string? requestId, StringBuilder answer, List<string> anomalies, ref string? errorCode, ref long? cost)
    {
        using var doc = JsonDocument.Parse(data);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var error))
        {
            errorCode = error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : "error";
            return;
        }

        if (requestId is not null && root.TryGetProperty("id", out var id) && id.GetString() != "chatcmpl-" + requestId)
        {
            anomalies.Add($"an event of another answer ({id.GetString()})");
        }

        foreach (var choice in root.GetProperty("choices").EnumerateArray())
        {
            if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } piece)
            {
                answer.Append(piece);
            }
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            if (cost is not null)
            {
                anomalies.Add("two usage events");
            }

            cost = usage.GetProperty("total_cost").GetInt64();
        }
    }

    private static string? ErrorCode(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("error").GetProperty("code").GetString();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }
}
