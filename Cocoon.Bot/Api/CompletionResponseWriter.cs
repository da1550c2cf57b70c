using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Cocoon.Bot.Api;

/// <summary>Writes one response, whole or as server-sent events, in OpenAI's shapes.</summary>
internal sealed class CompletionResponseWriter(HttpContext context, string requestId, string model, bool chat, long created)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private string Id => (chat ? "chatcmpl-" : "cmpl-") + requestId;

    private HttpResponse Response => context.Response;

    public async Task StartStreamAsync()
    {
        Response.StatusCode = StatusCodes.Status200OK;
        Response.ContentType = "text/event-stream; charset=utf-8";
        Response.Headers.CacheControl = "no-cache";
        Response.Headers["X-Accel-Buffering"] = "no";
        if (chat)
        {
            await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(Role: "assistant", Content: string.Empty), null)], SystemFingerprint), ApiJsonContext.Default.ChatCompletionChunk);
        }
        else
        {
            await Response.StartAsync(context.RequestAborted);
        }
    }

    public Task PieceAsync(string text) => chat
        ? EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(Content: text), null)], SystemFingerprint), ApiJsonContext.Default.ChatCompletionChunk)
        : EventAsync(new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(text, 0, null, null)]), ApiJsonContext.Default.TextCompletionResponse);

    public async Task FinishStreamAsync(string finish, UsageDto usage, CocoonInfo info, bool includeUsage)
    {
        if (chat)
        {
            await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(), finish)], SystemFingerprint, Cocoon: info), ApiJsonContext.Default.ChatCompletionChunk);
            if (includeUsage)
            {
                await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [], SystemFingerprint, usage, info), ApiJsonContext.Default.ChatCompletionChunk);
            }
        }
        else
        {
            await EventAsync(new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(string.Empty, 0, null, finish)], includeUsage ? usage : null, info), ApiJsonContext.Default.TextCompletionResponse);
        }

        await Response.Body.WriteAsync(Done, context.RequestAborted);
        await Response.Body.FlushAsync(context.RequestAborted);
    }

    public async Task StreamErrorAsync(ApiProblem problem)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        await EventAsync(problem.ToEnvelope(), ApiJsonContext.Default.ErrorEnvelope);
    }

    public void SetReceiptHeaders(CocoonInfo info)
    {
        var h = Response.Headers;
        h["X-Cocoon-Worker"] = info.WorkerId;
        h["X-Cocoon-Provider"] = info.ProviderId;
        h["X-Cocoon-Attestation"] = info.Attestation;
        h["X-Cocoon-Tier"] = info.Tier;
        h["X-Cocoon-Worker-Start"] = CompletionEndpoints.Stamp(info.WorkerStart);
        h["X-Cocoon-Worker-End"] = CompletionEndpoints.Stamp(info.WorkerEnd);
        h["X-Cocoon-Gateway-End"] = CompletionEndpoints.Stamp(info.GatewayEnd);
        if (info.RequestSha256 is { } request && info.ResponseSha256 is { } response)
        {
            h["X-Cocoon-Request-Sha256"] = request;
            h["X-Cocoon-Response-Sha256"] = response;
        }
    }

    public Task WriteWholeAsync(string text, string finish, UsageDto usage, CocoonInfo info) => chat
        ? Response.WriteAsJsonAsync(
            new ChatCompletionResponse(Id, "chat.completion", created, model, [new ChatChoice(0, new AssistantMessage("assistant", text, null), finish, null)], usage, SystemFingerprint, info),
            ApiJsonContext.Default.ChatCompletionResponse, cancellationToken: context.RequestAborted)
        : Response.WriteAsJsonAsync(
            new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(text, 0, null, finish)], usage, info),
            ApiJsonContext.Default.TextCompletionResponse, cancellationToken: context.RequestAborted);

    private const string SystemFingerprint = "cocoon";

    private async Task EventAsync<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        await Response.Body.WriteAsync(DataPrefix, context.RequestAborted);
        await JsonSerializer.SerializeAsync(Response.Body, value, typeInfo, context.RequestAborted);
        await Response.Body.WriteAsync(EventEnd, context.RequestAborted);
        await Response.Body.FlushAsync(context.RequestAborted);
    }
}
