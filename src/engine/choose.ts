/**
 * Which engine `load` and `run` use when --engine is not given, and what `doctor` reports: Docker when
 * its daemon answers, else Podman (which needs no daemon). A docker client with no daemon behind it, as
 * on a machine with Podman only, is not taken for a Docker.
 */
import { findOnPath, runProgram } from '../nix/install.js';
import { UserError } from '../util/errors.js';
import type { Engine } from './engines.js';

export interface EngineSurvey {
  /** `Docker 27.1.0` when its daemon answered. */
  docker?: string;
  /** The docker client is on PATH but no daemon answered it. */
  dockerWithoutDaemon: boolean;
  /** `Podman 4.3.1` when podman is on PATH and answers. */
  podman?: string;
}

/** What is on this machine to load images into. */
export async function surveyEngines(): Promise<EngineSurvey> {
  const survey: EngineSurvey = { dockerWithoutDaemon: false };
  const [docker, podman] = await Promise.all([findOnPath('docker'), findOnPath('podman')]);
  const [server, version] = await Promise.all([
    docker ? runProgram('docker', ['version', '--format', '{{.Server.Version}}']).catch(() => undefined) : undefined,
    podman ? runProgram('podman', ['--version']).catch(() => undefined) : undefined,
  ]);
  if (server?.code === 0 && server.stdout.trim()) survey.docker = `Docker ${server.stdout.trim()}`;
  else if (docker) survey.dockerWithoutDaemon = true;
  if (version?.code === 0) survey.podman = version.stdout.trim().replace(/^podman version /, 'Podman ');
  return survey;
}

/** The engine of a survey: Docker with a daemon, else Podman; undefined when there is neither. */
export function engineOf(survey: EngineSurvey): Engine | undefined {
  return survey.docker ? 'docker' : survey.podman ? 'podman' : undefined;
}

/** Why there is nothing to load into, and what to do. */
export function noEngineAdvice(survey: EngineSurvey): { message: string; fix: string } {
  return survey.dockerWithoutDaemon
    ? { message: 'the docker client is here, but no Docker daemon answers, and there is no Podman', fix: 'start the Docker daemon, or install Podman' }
    : { message: 'neither Docker nor Podman is installed', fix: 'install Docker or Podman' };
}

/** --engine as given, else the one this machine has (as doctor reports it). */
export async function chooseEngine(given: Engine | undefined): Promise<Engine> {
  if (given) return given;
  const survey = await surveyEngines();
  const engine = engineOf(survey);
  if (engine) return engine;
  const { message, fix } = noEngineAdvice(survey);
  throw new UserError('engine-missing', `nothing to load the image into: ${message}; ${fix} (or name one with --engine)`);
}
