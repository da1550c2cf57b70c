using System.Text;

namespace Cocoon.Local.Up;

/// <summary>The "Cocoon is up." block: where everything runs and how to try it.</summary>
internal static class UpBanner
{
    public static void Print(TextWriter output, UpSettings settings, string apiKey, bool apiKeyGenerated, string redisNote, string chainNote, string model)
    {
        var b = new StringBuilder();
        b.AppendLine();
        b.AppendLine("Cocoon is up.");
        b.AppendLine($"  Gateway:   {settings.Url}  (OpenAI-compatible API under /v1, /healthz, /metrics)");
        for (var i = 1; i < settings.Gateways; i++)
        {
            b.AppendLine($"             {settings.GatewayUrl(i)}  (gateway {i + 1} of {settings.Gateways}: same Redis, same ledger)");
        }

        b.AppendLine(settings.Workers == 1
            ? $"  Worker:    one local worker ({settings.WorkerExe} run), simulated TEE attestation"
            : $"  Workers:   {settings.Workers} local workers ({settings.WorkerExe} run), simulated TEE attestation");
        b.AppendLine("  Restarts:  a gateway, worker or the Redis up started that exits is started again (1 s backoff, doubling to 30 s; Redis with the same data folder and AOF)");
        b.AppendLine("  Policy:    local development (simulated TEE trusted, any measurement, no provider token needed)");
        b.AppendLine($"  {redisNote}");
        b.AppendLine("  Redis TLS: off: local Redis stays on loopback without TLS or ACL users (a network for other machines' workers needs both; see \"Run a worker for the network\")");
        b.AppendLine($"  {chainNote}");
        b.AppendLine($"  Data:      {settings.DataDir} (ledger.db, redis/, api-key)");
        b.AppendLine($"  API key:   {apiKey}  ({(apiKeyGenerated ? "generated and saved under the data folder" : settings.ConfiguredApiKey is null ? "saved under the data folder by an earlier up" : "from COCOON_API_KEY")})");
        b.AppendLine(settings.TelegramOn
            ? "  Telegram:  on (TELEGRAM_BOT_TOKEN is set)"
            : "  Telegram:  off: TELEGRAM_BOT_TOKEN is not set (get a token from @BotFather); the API runs without it");
        b.AppendLine();
        b.AppendLine("Try it:");
        b.AppendLine("  ./cocoon ask \"Once upon a time\"");
        b.AppendLine($"  curl -sN {settings.Url}/v1/chat/completions -H \"Authorization: Bearer {apiKey}\" -H 'Content-Type: application/json' \\");
        b.AppendLine("    -d '{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'");
        b.AppendLine($"  (all models: curl -s {settings.Url}/v1/models -H \"Authorization: Bearer {apiKey}\")");
        b.AppendLine("Ctrl-C stops everything.");
        lock (output)
        {
            output.Write(b.ToString());
            output.Flush();
        }
    }
}
