using System.Text;
using Cocoon.Engine.Protocol;
using Cocoon.Worker.Native;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Cli;

/// <summary>selfcheck [--model PATH] [--threads N]: loads the model, generates a few tokens, prints the model identity.</summary>
internal static class SelfCheckCommand
{
    public static Task<int> RunAsync(string[] args) => CliSupport.GuardAsync(async cancellationToken =>
    {
        var o = CliSupport.Options(args, "--model", "--threads");
        var overrides = new Dictionary<string, string?> { ["Llama:MaxConcurrency"] = "1" };
        if (o.TryGetValue("--model", out var model))
        {
            overrides["Worker:Model"] = model;
        }

        if (o.TryGetValue("--threads", out var threads))
        {
            overrides["Llama:Threads"] = threads;
        }

        using var loggers = CliSupport.Logging(LogLevel.Warning);
        using var service = await CliSupport.LoadAsync(CliSupport.Configuration(overrides), loggers, cancellationToken).ConfigureAwait(false);
        var text = new StringBuilder();
        GenerationUsage? usage = null;
        var request = new GenerationRequest { Prompt = "Once upon a time", Sampling = new SamplingOptions { MaxTokens = 8, Temperature = 0 } };
        await foreach (var chunk in service.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            text.Append(chunk.Text);
            usage = chunk.Usage ?? usage;
        }

        var m = service.Model;
        Console.WriteLine($"model        {m.Name}");
        Console.WriteLine($"sha256       {m.Sha256}");
        Console.WriteLine($"architecture {m.Architecture}");
        Console.WriteLine($"parameters   {m.ParameterCount}");
        Console.WriteLine($"context      {m.ContextLength} per sequence (trained {m.TrainedContextLength}), {service.MaxConcurrency} sequences");
        Console.WriteLine($"chat         {(m.HasChatTemplate ? "template in the GGUF" : "no template (plain format)")}");
        Console.WriteLine($"llama.cpp    {LlamaLibrary.Loaded?.Directory} ({LlamaLibrary.Loaded?.Backend.ToString().ToLowerInvariant()}; {string.Join(", ", LlamaLibrary.Devices())})");
        Console.WriteLine($"generated    {usage?.CompletionTokens} tokens ({usage?.FinishReason}) in {usage?.GenerationTime.TotalMilliseconds:F1} ms");
        if (usage is null || usage.CompletionTokens == 0)
        {
            Console.Error.WriteLine("cocoon: error: the model generated nothing");
            return 1;
        }

        Console.WriteLine("selfcheck ok");
        return 0;
    });
}
