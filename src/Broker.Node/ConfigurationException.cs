namespace Broker.Node;

/// <summary>A setting that is missing or malformed; the node refuses to start and names it.</summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string setting, string? envVar, string problem)
        : base(envVar is null ? $"setting '{setting}': {problem}" : $"setting '{setting}' (environment {envVar}): {problem}")
    {
    }
}
