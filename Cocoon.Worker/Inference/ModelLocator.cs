namespace Cocoon.Worker.Inference;

/// <summary>Picks the model: COCOON_MODEL (Worker:Model), else ./models/*.gguf, else ../shared/models/stories260K.gguf.</summary>
public static class ModelLocator
{
    public static string Resolve(string? configured, string workingDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var path = Path.GetFullPath(configured, workingDirectory);
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"COCOON_MODEL (Worker:Model) is {path}, which does not exist. Set it to a GGUF file.", path);
        }

        var models = Path.Combine(workingDirectory, "models");
        if (Directory.Exists(models) && Directory.EnumerateFiles(models, "*.gguf").Order(StringComparer.Ordinal).FirstOrDefault() is { } local)
        {
            return local;
        }

        var shared = Path.GetFullPath(Path.Combine(workingDirectory, "..", "shared", "models", "stories260K.gguf"));
        if (File.Exists(shared))
        {
            return shared;
        }

        throw new FileNotFoundException(
            $"No model found. Looked at COCOON_MODEL (Worker:Model, not set), {models}/*.gguf and {shared}. " +
            "Download a GGUF model (for example a Qwen2.5 or Llama 3.x instruct GGUF) into ./models/, or set COCOON_MODEL to its path.");
    }
}
